"""``grader review``: the TA's web app over the gradebook — written answers by question with rubric keys, the
flags queue, every decision an event (:mod:`grader.store.events`). Only :mod:`grader.cli` imports it."""
