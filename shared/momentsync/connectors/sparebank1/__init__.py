"""SpareBank 1 Regnskap (Unimicro platform): the second accounting target behind the connector port."""
