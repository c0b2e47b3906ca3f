"""``kefu bench``: each hot path against the fastest thing Python does here.

One module per benchmark (:mod:`.contacts`, :mod:`.messages`,
:mod:`.connections`, :mod:`.routing`), the open-loop load generator they share
(:mod:`.load`, over the lean clients of :mod:`.wire`), the processes they start
(:mod:`.procs`, :mod:`.limits`), and the suite that runs them and prints one
table (:mod:`.suite`).
"""
