"""Identity resolution: which customer rows are one person, and which records belong to
which order.

Pure parts (``normalise``, ``matching``, ``clustering``) take values and
return decisions with their reasons; ``service`` reads and writes through a unit of work.
"""
