"""Plumbing: what the concept modules need but a student never has to read.

Atomic file writes (``files``), whole-number checks (``checks``), BLAS thread limits
(``threads``) and malloc tuning (``memory``) used only while ``fit`` runs, the IDX format and
the MNIST download (``idx``, ``mnist_files``, ``mnist_wheel``), the model file format
(``serialization``), and the compiled step's code generator and its rules (``jit_codegen``,
``jit_rules``).
"""
