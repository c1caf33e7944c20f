"""A local cluster on one machine (``make cluster``): the plan (pure) and the runner."""
