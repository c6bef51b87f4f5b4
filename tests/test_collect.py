"""collect: student names in ASCII, one id per student or an error, a zipped folder unwrapped."""

from __future__ import annotations

import zipfile

import nbformat
import pytest

from helpers.instructor.collect import collect, student_id
from test_instructor import A, NB, _release, light  # noqa: F401 (light is a fixture)


@pytest.mark.parametrize("name, student", [("José García.ipynb", "Jose_Garcia"), ("Josè_García.ipynb", "Jose_Garcia"),
                                           ("Zoë Ångström.ipynb", "Zoe_Angstrom"), ("ﬁona.ipynb", "fiona"),
                                           ("王伟.ipynb", "u738bu4f1f"), (f"Łukasz_{A}.ipynb", "u141ukasz")])
def test_student_ids_are_ascii(name, student):
    assert student_id(name, A, is_file=True) == student


def test_names_that_give_one_id_are_an_error_naming_every_file(light, tmp_path):
    release = nbformat.writes(_release(light)).encode()
    source = tmp_path / "inbox"
    source.mkdir()
    names = ["José García.ipynb", "José_García.ipynb", "Josè García.ipynb", "bob.ipynb", "Bob.ipynb", "carol.ipynb"]
    for name in names:
        (source / name).write_bytes(release)
    with pytest.raises(ValueError) as error:
        collect(light, source, A)
    message = str(error.value)
    for name in names[:5]:
        assert repr(name) in message, message
    assert "carol" not in message and "(Jose_Garcia)" in message and "rename" in message
    assert not light.folder("submitted").exists(), "nothing is copied while names collide"


def test_a_zipped_folder_is_unwrapped_and_said_so_but_a_students_folder_is_kept(light, tmp_path):
    release = nbformat.writes(_release(light))
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:  # what "compress folder" makes of a folder named class
        z.writestr("class/alice.ipynb", release)
        z.writestr(f"class/bob_{A}.ipynb", release)
        z.writestr("__MACOSX/class/._alice.ipynb", "junk")
    done = collect(light, archive, A)
    assert done.students == ["alice", "bob"]
    assert [n for n in done.notes if "class/" in n and "not as a student" in n], done.notes
    one = tmp_path / "dave.zip"
    with zipfile.ZipFile(one, "w") as z:  # one student's folder: dave is the student
        z.writestr(f"dave/{A}/{NB}", release)
    done = collect(light, one, A)
    assert done.students == ["dave"] and done.notes == []
    assert (light.folder("submitted") / "dave" / A / NB).is_file()
