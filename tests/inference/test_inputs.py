from facebehavior.inference.inputs import discover


def test_directories_are_searched_recursively_and_globs_expanded(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.jpg", "a/b/2.PNG", "a/b/clip.mp4", "a/notes.txt", "c.mkv"):
        (tmp_path / name).write_bytes(b"x")
    inputs, problems = discover([str(tmp_path / "a"), str(tmp_path / "*.mkv"), str(tmp_path / "a" / "1.jpg")])
    assert [(i.name, i.media) for i in inputs] == [("1.jpg", "image"), ("b/2.PNG", "image"),
                                                   ("b/clip.mp4", "video"), ("c.mkv", "video")]
    assert problems == []
    assert all(i.path.is_absolute() for i in inputs)


def test_missing_paths_empty_dirs_and_unmatched_globs_are_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    named = tmp_path / "notes.txt"
    named.write_text("a file named explicitly is tried whatever its extension")
    inputs, problems = discover([str(tmp_path / "nope.jpg"), str(tmp_path / "empty"), str(tmp_path / "*.png"),
                                 str(named)])
    assert [i.media for i in inputs] == ["image"]
    assert [p.reason for p in problems] == ["missing_file", "empty_directory", "no_match"]


def test_a_file_left_by_an_interrupted_atomic_write_is_reported_not_analysed(tmp_path):
    """A hard kill during an atomic write leaves `.<name>.<pid>.tmp<suffix>` behind, with a media
    suffix; a folder scan names it as a problem instead of reading a possibly half-written image."""
    from facebehavior.atomic import temp_path

    (tmp_path / "face.jpg").write_bytes(b"x")
    temp_path(tmp_path / "face.jpg").write_bytes(b"half")
    inputs, problems = discover([str(tmp_path)])
    assert [i.name for i in inputs] == ["face.jpg"]
    assert [p.reason for p in problems] == ["interrupted_write"]
