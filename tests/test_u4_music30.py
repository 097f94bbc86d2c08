"""30Music readers (idomaar and the seed's csv) and the toy generator."""

import pandas as pd
import pytest

from coursekit import DataError
from coursekit.datasets.music30 import (load_music30, read_music30, read_persons, read_session_csv,
                                        read_sessions, read_tracks)

# the real record shapes: plays carry playstart (seconds from the session start), playtime,
# playratio (may be null) and action; durations are milliseconds; track names are Artist/_/Title
SESSIONS = (
    'session\t10\t1390585201\t{"numtracks":2,"playtime":300}\t{"subjects":[{"type":"user","id":44361}],'
    '"objects":[{"type":"track","id":7,"playstart":0,"playtime":169,"playratio":1.0,"action":"play"},'
    '{"type":"track","id":8,"playstart":169,"playtime":131,"playratio":null,"action":"skip"}]}\n'
    'session\t11\t1390600000\t{"numtracks":1}\t{"subjects":[{"type":"user","id":5}],'
    '"objects":[{"type":"track","id":8}]}\n'
)
TRACKS = (
    'track\t7\t-1\t{"duration":169000,"playcount":-1,"MBID":null,"name":"Of+Monsters+and+Men/_/Dirty+Paws"}'
    '\t{"artists":[{"type":"person","id":77}],"albums":[],"tags":[]}\n'
    'track\t8\t-1\t{"duration":131000,"name":"Caf%C3%A9+Tacvba/_/Duet+%2B+Co"}'
    '\t{"artists":[{"type":"person","id":78},{"type":"person","id":77}]}\n'
    'track\t9\t-1\t{"duration":-1,"name":"Orphan"}\n'
)
PERSONS = 'person\t77\t-1\t{"MBID":null,"name":"Of+Monsters+and+Men"}\nperson\t78\t-1\t{"name":"Caf%C3%A9+Tacvba"}\n'


@pytest.fixture
def music_dir(tmp_path):
    (tmp_path / "sessions.idomaar").write_text(SESSIONS)
    (tmp_path / "tracks.idomaar").write_text(TRACKS)
    (tmp_path / "persons.idomaar").write_text(PERSONS)
    return tmp_path


def test_read_sessions(music_dir):
    s = read_sessions(music_dir / "sessions.idomaar")
    assert s.columns.tolist() == ["session_id", "user_id", "timestamp", "track_id", "position", "playstart",
                                  "playtime", "playratio", "action"]
    ints = ["session_id", "user_id", "timestamp", "track_id", "position", "playstart", "playtime"]
    # a play's time is its session's timestamp plus its playstart (the session's own time without one)
    assert s[ints].values.tolist() == [[10, 44361, 1390585201, 7, 0, 0, 169],
                                       [10, 44361, 1390585201 + 169, 8, 1, 169, 131],
                                       [11, 5, 1390600000, 8, 0, -1, -1]]
    assert s["playratio"].tolist()[0] == 1.0 and s["playratio"].isna().tolist() == [False, True, True]
    assert s["action"].tolist()[:2] == ["play", "skip"] and s["action"].isna().tolist() == [False, False, True]


def test_read_tracks_and_persons(music_dir):
    t = read_tracks(music_dir / "tracks.idomaar")
    assert t[["track_id", "artist_id", "duration_ms"]].values.tolist() == [
        [7, 77, 169000], [8, 77, 131000], [8, 78, 131000], [9, -1, -1]]
    # Artist/_/Title, URL-encoded: the title, decoded (%2B is a literal +)
    assert t["name"].tolist() == ["Dirty Paws", "Duet + Co", "Duet + Co", "Orphan"]
    p = read_persons(music_dir / "persons.idomaar")
    assert p.values.tolist() == [[77, "Of Monsters and Men"], [78, "Café Tacvba"]]


def test_repeated_track_ids_keep_the_first_record_with_one_warning(music_dir):
    # as in the release (5,675,143 track lines for 4,519,105 ids): an id again, even with another
    # first artist, three times over, and a repeat of the orphan
    lines = TRACKS.splitlines(keepends=True)
    again = [lines[0].replace('"id":77', '"id":78'), lines[1], lines[0], lines[2]]
    (music_dir / "tracks.idomaar").write_text("".join(lines + again))
    with pytest.warns(UserWarning) as record:
        t = read_tracks(music_dir / "tracks.idomaar")
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages
    assert "tracks.idomaar: 4 of 7 track records repeat an id already read (3 distinct ids; " \
           "first: id 7 on line 4, already on line 1)" in messages[0]
    assert t[["track_id", "artist_id"]].values.tolist() == [[7, 77], [8, 77], [8, 78], [9, -1]]  # the first wins
    with pytest.warns(UserWarning, match="4 of 7 track records"):
        data = read_music30(music_dir)
    assert data.repeated == {"sessions.idomaar": 0, "tracks.idomaar": 4, "persons.idomaar": 0}
    assert data.summary()["repeated records dropped from tracks.idomaar"] == 4
    assert "4 repeated records dropped from tracks.idomaar" in repr(data)
    assert data.user_artist_counts()["plays"].sum() == 5  # as without the repeats


def test_duplicated_sessions_are_dropped_not_counted_twice(music_dir):
    once = read_music30(music_dir).user_artist_counts()
    lines = SESSIONS.splitlines(keepends=True)
    (music_dir / "sessions.idomaar").write_text("".join(line for line in lines for _ in (0, 1)))  # every line twice
    with pytest.warns(UserWarning, match=r"sessions.idomaar: 2 of 4 session records repeat an id already read "
                                         r"\(2 distinct ids; first: id 10 on line 2, already on line 1\)"):
        data = read_music30(music_dir)
    pd.testing.assert_frame_equal(data.user_artist_counts(), once)
    assert data.repeated["sessions.idomaar"] == 2 and len(data.plays) == 5


def test_read_music30_joins_plays_to_artists(music_dir):
    data = read_music30(music_dir)
    counts = data.user_artist_counts()
    # user 44361 played track 7 (artist 77) and the duet 8 (77 and 78); user 5 played the duet
    assert counts.values.tolist() == [[5, 77, 1], [5, 78, 1], [44361, 77, 2], [44361, 78, 1]]
    assert data.artist_names([78, 1]).tolist() == ["Café Tacvba", "?"]


@pytest.mark.parametrize("line, field", [
    ('session\tx\t1\t{}\t{}\n', "id"),
    ('session\t1\t1\t{"a":1}\t{"subjects":[{"type":"user","id":3}],"objects":[{"type":"track" "id":1}]}\n', "links"),
    ('session\t1\t1\tnot json\t{}\n', "properties"),
    ('session\t1\t1\t{}\t{"objects":[]}\n', "links"),  # no user
])
def test_bad_lines_name_file_line_and_field(tmp_path, line, field):
    path = tmp_path / "sessions.idomaar"
    path.write_text(SESSIONS.splitlines(keepends=True)[0] + line)
    with pytest.raises(DataError, match=f"sessions.idomaar, line 2, field '{field}'"):
        read_sessions(path)


def test_missing_real_files_say_what_to_do(empty_data_home):
    with pytest.raises(DataError, match="30Music"):
        load_music30("real")


def test_read_session_csv(tmp_path):
    path = tmp_path / "sessions_short.csv"
    path.write_text("ID;UserId;Timestamp;Type;ArtistsID\n1;4;100;session;3,546,3\n2;4;200;session;\n3;14;300;session;13\n")
    got = read_session_csv(path)
    assert got.values.tolist() == [[1, 4, 100, 3], [1, 4, 100, 546], [1, 4, 100, 3], [3, 14, 300, 13]]
    path.write_text("ID;UserId;ArtistsID\n1;4;3,x\n")
    with pytest.raises(DataError, match="line 2, column 'ArtistsID'"):
        read_session_csv(path)
    path.write_text("ID;User;ArtistsID\n1;4;3\n")
    with pytest.raises(DataError, match="'UserId'"):
        read_session_csv(path)


def test_toy_data_has_structure(data_home):
    data = load_music30("toy", n_users=600, n_artists=500)
    again = load_music30("toy", n_users=600, n_artists=500)
    pd.testing.assert_frame_equal(data.plays, again.plays)
    counts = data.user_artist_counts()
    assert counts["user_id"].nunique() == 600
    assert set(counts["artist_id"]) <= set(data.artists["artist_id"])
    # power law: the top 10 % of artists get far more than 10 % of the plays
    per_artist = data.plays.groupby("artist_id").size().sort_values(ascending=False)
    assert per_artist.iloc[: len(per_artist) // 10].sum() > 0.35 * per_artist.sum()
    # communities: a user's plays concentrate in few communities
    comm = pd.Series(data.communities, index=data.artists["artist_id"])
    plays_comm = comm.reindex(data.plays["artist_id"]).to_numpy()
    per_uc = pd.DataFrame({"u": data.plays["user_id"].to_numpy(), "c": plays_comm}).groupby(["u", "c"]).size()
    top_share = per_uc.groupby(level="u").max() / per_uc.groupby(level="u").sum()
    assert top_share.mean() > 0.5  # with 20 communities, chance would be ~0.05-0.2
    # the seed's "more than 10 artists" filter keeps about half the users
    assert 0.3 < (counts.groupby("user_id").size() > 10).mean() < 0.8


def test_chunked_reading_gives_the_same_table_and_true_line_numbers(music_dir, monkeypatch):
    from coursekit.datasets import music30

    whole = read_music30(music_dir)
    original = music30.iter_idomaar
    monkeypatch.setattr(music30, "iter_idomaar", lambda path, rt=None, chunksize=1: original(path, rt, chunksize=1))
    pd.testing.assert_frame_equal(read_music30(music_dir).plays, whole.plays)
    path = music_dir / "sessions.idomaar"
    path.write_text(SESSIONS + 'session\t12\t5\t{}\t{"subjects":[{"type":"user","id":1}],"objects":[{"type":"track","id":"x"}]}\n')
    with pytest.raises(DataError, match="line 3, field 'links'"):
        read_sessions(path)


def test_release_session_lines_with_a_space_before_the_links(tmp_path):
    # the release writes 'event.session' and often a space, not a tab, between properties and links
    path = tmp_path / "sessions.idomaar"
    path.write_text(
        'event.session\t287144\t1390585201\t{"numtracks":2,"playtime":338} {"subjects":[{"type":"user","id":44361}],'
        '"objects":[{"type":"track","id":3006631,"playstart":0,"playtime":169,"playratio":1.0,"action":"play"},'
        '{"type":"track","id":3006632,"playstart":169,"playtime":169,"playratio":null,"action":"play"}]}\n')
    s = read_sessions(path)
    assert s["timestamp"].tolist() == [1390585201, 1390585201 + 169]
    assert s["track_id"].tolist() == [3006631, 3006632] and s["playratio"].isna().tolist() == [False, True]
