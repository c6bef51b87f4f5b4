"""nbgrader configuration of the course (read from the course root, the directory nbgrader runs in).

solutions/<assignment>/  instructor source   ->  nbgrader generate_assignment  ->  course/<assignment>/
"""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"

# Students' notebooks always run on the standard Python 3 kernel.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Per-cell time limit. Under grading every notebook shrinks its work (helpers.device.budget) and
# runs in at most 15 s in total, so no correct cell comes near 20 s; an infinite loop is
# interrupted here, scores 0 for that cell, and the following cells still run.
c.Execute.timeout = 20
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True

# nbgrader scores any stderr output in a test cell as 0. Our tests fail by raising, never by
# printing, so stderr text that is only a warning or a progress bar must not cost points.
# (setup_notebook() also silences warnings while nbgrader runs the notebook.)
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|WARNING|warnings\.warn|\d+%\|)"

# Keep outputs small in feedback and the gradebook.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60
