"""Exercises, student checks, releasing student notebooks, exporting and grading.

- :mod:`.checks`: ``@exercise`` (points, hints, delegates) and ``check`` / ``run_check``;
- :mod:`.delegation`: "write it yourself": the package versions an exercise re-implements raise
  in the student's code while its checks and hidden tests run;
- :mod:`.scoring`: hidden-test parts with points, the grader's own run of each exercise, the rule;
- :mod:`.written`: written questions (points, rubric, model answer), answers by question,
  ``written.csv``, pages by question, instructor boxes;
- :mod:`.audit`: the conventions checked over solution notebooks (hint leaks, delegates, markup);
- :mod:`.sandbox`: bubblewrap around every graded kernel; :mod:`.guard`: the grader's signed,
  encrypted channel into its run and the tampering checks;
- :mod:`.release`, :mod:`.export`, :mod:`.grade`: the ``coursekit`` commands.
"""
