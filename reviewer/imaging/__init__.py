"""Pure image code: geometry, loading, detectors, blur and export writers.

Nothing in this package imports Django; a test holds it to that.
"""
