"""The pure calculation core: numbers and arrays in, results out. No I/O here."""
