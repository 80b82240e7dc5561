"""Chapter-specific protocols: code that serves one chapter's experiment and nothing else.

* :mod:`~optlib.book.analysis` -- chapter 3: hand traces, effective learning rates, recording
  a training stream;
* :mod:`~optlib.book.costs` -- memory (:func:`~optlib.book.costs.state_size`) and time per step;
* :mod:`~optlib.book.experiments` -- chapter 4: the source article's shared step, Kingma & Ba's
  logistic-regression protocol;
* :mod:`~optlib.book.online` -- chapter 5: online regret, Reddi et al.'s counterexample played;
* :mod:`~optlib.book.distributed` -- chapter 5: data parallelism and ZeRO on one machine;
* :mod:`~optlib.book.gradient_free` -- chapter 5: Nelder-Mead and CMA-ES against Adam;
* :mod:`~optlib.book.faq` -- chapter 6: which embedding rows each optimizer moves.

Import the module you need: ``from optlib.book import online``.
"""
