"""The city's side in the running CSMS: the monthly district report and the connection log."""
