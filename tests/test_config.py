import pytest

from nq57sync import Config, ConfigError, Workspace


def write(tmp_path, text):
    path = tmp_path / "nq57sync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_store_path_resolves_against_the_file(tmp_path):
    config = Config.load(write(tmp_path, '[store]\npath = "data/x.db"\n'))
    assert config.store_path == tmp_path / "data" / "x.db"
    assert config.reconcile.left == "motcua" and config.reconcile.sync_grace_hours == 24


@pytest.mark.parametrize(("text", "expected"), [
    ('[stor]\npath = "x"\n', "mục “stor”"),
    ('[store]\npaht = "x"\n', "store.paht"),
    ('[[source]]\nplugin = "dvcqg"\n', "thiếu khóa “name”"),
    ('[[source]]\nname = "a"\n', "nguồn “a”: khóa “plugin” bị thiếu"),
    ('[[source]]\nname = "a"\nplugin = "nope"\n', "plugin “nope” chưa được cài"),
    ('[[source]]\nname = "a"\nplugin = "dvcqg"\nrequests_per_second = "fast"\n',
     "khóa “requests_per_second” phải là số"),
    ('[[source]]\nname = "a"\nplugin = "dvcqg"\n[[source]]\nname = "a"\nplugin = "dvcqg"\n',
     "bị trùng"),
    ('[[source]]\nname = "a"\nplugin = "dvcqg"\nbase_url = "ftp://x"\nprovince_id = "1"\n',
     "khóa “base_url” phải bắt đầu bằng http:// hoặc https://"),
    ('[[source]]\nname = "a"\nplugin = "dvcqg"\nbase_url = "http://x"\nprovince_id = "1"\n'
     'page_size = 0\n', "khóa “page_size” phải từ 1 đến 5000"),
    ('[[source]]\nname = "m"\nplugin = "motcua"\napi_url = "x"\nusername_env = "U"\n'
     'password_env = "P"\n',
     "khóa “api_url” phải bắt đầu bằng http:// hoặc https://"),
    ("[reconcile]\nsync_grace_hours = true\n", "reconcile.sync_grace_hours"),
    ("not toml = = 1", "sai cú pháp TOML"),
])
def test_errors_name_the_key_the_source_and_the_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Workspace.from_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="Không tìm thấy tệp cấu hình"):
        Config.load(tmp_path / "absent.toml")


def test_secrets_come_from_the_environment_and_only_their_names_appear(tmp_path, monkeypatch):
    config = Config.load(write(tmp_path, '[[source]]\nname = "m"\nplugin = "x"\n'
                                         'password_env = "NQ57_TEST_PASSWORD"\n'))
    source = config.source("m")
    monkeypatch.delenv("NQ57_TEST_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="biến môi trường “NQ57_TEST_PASSWORD”"):
        source.secret("password_env")
    monkeypatch.setenv("NQ57_TEST_PASSWORD", "s3cr3t-value")
    assert source.secret("password_env") == "s3cr3t-value"


def test_unknown_source_names_the_known_ones(tmp_path):
    config = Config.load(write(tmp_path, '[[source]]\nname = "m"\nplugin = "x"\n'))
    with pytest.raises(ConfigError, match="các nguồn: m"):
        config.source("dvcqg")
