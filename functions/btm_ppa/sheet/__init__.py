"""The BESS tab as the backend sees it: the Workbook port, cell parsing, inputs, outputs,
the HH Data tab, the template and the worked example."""
