"""MapReduce (Dean & Ghemawat, OSDI 2004) as a system plugin: see ``system.py``."""
