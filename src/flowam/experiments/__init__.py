"""Experiments: one module each, called by ``flowam experiment <name>``.

- :mod:`common`: what they share (subject, ``--quick``/``--full`` scale, outputs).
- :mod:`variants`: Table I (``table1``), Table III (``ablation``), Fig. S5 (``beta``),
  Fig. S4 (``diversity``): labelled runs compared on one model.
- :mod:`sanity`: Table S1, Fig. S2/S3 and cascading randomization.
- :mod:`flow_analysis`: Fig. 2, the activation flow.
- :mod:`table4`: the per-architecture comparison (Table IV) on every bundled architecture.
- :mod:`realism`: how a classifier does on a real dataset's objects of the classes it
  shares with it (e.g. the bundled model on genuine ModelNet40 files).
- :mod:`reproduce`: all of them, after an estimate of the time.
"""
