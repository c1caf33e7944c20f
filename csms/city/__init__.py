"""The city's side of the plan: service-radius coverage (and, later, reports and the feed).

Everything here is pure: plain data in, plain data out, no I/O.
"""
