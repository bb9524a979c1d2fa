"""Connecting a tenant to Fiken: one-time links, the OAuth2 flow, company choice, disconnect."""
