"""Processing queued events: bring the target record to Moment's latest state, record the outcome."""
