"""Storage systems: Dynamo, GFS and Chord, YCSB workloads, and the consistency checkers.

Each system is its own plugin (entry points ``dynamo``, ``gfs``, ``chord``, ``ycsb``), so a
user can install, disable or replace one without the others.
"""
