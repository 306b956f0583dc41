"""Spark RDDs (Zaharia et al., NSDI'12) for the batch workloads: see ``system.py``."""
