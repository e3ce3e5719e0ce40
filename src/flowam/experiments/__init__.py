"""Experiments: one module each, called by ``flowam experiment <name>``.

- :mod:`realism`: how a classifier does on a real dataset's objects of the classes it
  shares with it (e.g. the bundled model on genuine ModelNet40 files).
- :mod:`table4`: the paper's per-architecture comparison (Table IV) on every bundled
  architecture.
"""
