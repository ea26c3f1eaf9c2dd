"""DNO reference data shipped with the package: time bands, unit rates, GSP groups,
residual charging bands, and the MPAN -> DNO -> rates lookup."""
