"""Reproductions of published papers and data sets: analysis files plus figure maps, one folder each."""
