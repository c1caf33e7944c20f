"""The CSMS's certificate authority: the pure core (:mod:`.ca`, :mod:`.ocsp`) and its key
and certificate files (:mod:`.ca_files`)."""
