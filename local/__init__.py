"""The local stack: the whole pipeline on one machine (moto + emulators), for make run, demos and tests."""
