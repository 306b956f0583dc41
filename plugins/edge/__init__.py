"""Edge and fog: container image deployment on small nodes, live migration, fog storage and
stream-processing placement.

Each design is its own plugin (entry points ``deploy``, ``migration``, ``fogstore``,
``streams``).
"""
