"""Keywords (tags) for Chinese and English items."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.stories.keywords import _stop_en, _stop_zh, keywords

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
BY_ID = {o["id"]: o for o in ITEMS}

EXPECTED = {
    "zh-pmi-oct-1": {"PMI", "制造业", "国家统计局"},
    "zh-quake-2023-1": {"地震", "积石山"},
    "zh-moutai-q3-1": {"茅台"},
    "zh-shenzhou19-1": {"神舟"},
    "zh-typhoon-1": {"台风", "中央气象台"},
    "zh-double11-1": {"快递", "业务量"},
    "en-fed-nov-1": {"Federal Reserve"},
    "en-apple-q4-1": {"Apple", "revenue"},
    "en-ecb-1": {"ECB", "European Central Bank"},
    "en-starship-1": {"Starship", "SpaceX"},
    "en-wildfire-1": {"Mountain Fire"},
    "en-single-03": {"Europa", "Jupiter"},
}


@pytest.mark.parametrize("item_id", sorted(EXPECTED))
def test_known_keywords_appear(item_id):
    o = BY_ID[item_id]
    assert EXPECTED[item_id] <= set(keywords(o["title"], o["text"])), keywords(o["title"], o["text"])


def test_no_stop_words_single_characters_or_numbers_and_at_most_max_tags():
    stop = _stop_zh() | _stop_en()
    assert {"记者", "表示", "报道", "今年", "目前", "进行", "相关", "发布", "新华社", "央视", "日电"} <= stop
    for o in ITEMS:
        for n in (1, 3, 5, 8):
            tags = keywords(o["title"], o["text"], max_tags=n)
            assert len(tags) <= n
            assert len(tags) == len(set(tags))
            for t in tags:
                assert len(t) >= 2, (o["id"], t)
                assert t.lower() not in stop, (o["id"], t)
                assert not any(w.lower() in stop for w in t.split(" ")), (o["id"], t)
                assert not t.replace(".", "").replace(",", "").replace("%", "").isdigit(), (o["id"], t)
        assert keywords(o["title"], o["text"]), o["id"]


def test_title_words_weigh_more():
    # 灯光秀 twice in the text, 无人机 once but also in the title
    assert keywords("无人机表演点亮夜空", "灯光秀吸引市民。灯光秀持续一小时，无人机编队变换图案。", max_tags=1) == ["无人机"]
    assert keywords("Drones light up the sky", "A lantern show drew crowds. The lantern show lasted an hour "
                    "while drones formed pictures.", max_tags=1) == ["drones"]


def test_deterministic_across_processes():
    here = [keywords(o["title"], o["text"]) for o in ITEMS]
    assert here == [keywords(o["title"], o["text"]) for o in ITEMS]
    code = ("import json,sys; from tidings.stories.keywords import keywords; "
            "items=[json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]; "
            "print(json.dumps([keywords(o['title'], o['text']) for o in items], ensure_ascii=False))")
    out = subprocess.run([sys.executable, "-c", code, str(DATA)], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert json.loads(out.stdout) == here
    assert out.stderr == ""  # jieba is quiet


def test_empty_and_degenerate_input():
    assert keywords("", "") == []
    assert keywords("2024", "1 2 3 4") == []
    assert keywords("Fed", "", max_tags=0) == []


def test_threads_share_the_word_memo_while_it_is_renewed(monkeypatch):
    """A worker describes feeds in several threads at once; the Chinese word memo is renewed when full. It
    was cleared in place, so a thread between its look-ups met a missing word (KeyError: the feed failed)."""
    import threading

    from tidings.stories import keywords as kw

    keywords("预热", "预热文本")
    monkeypatch.setattr(kw, "_ZH_OK_MAX", 3)  # renewed at nearly every item
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between any two bytecodes
    texts = [(f"央行宣布降准{i}个百分点", "中国人民银行今天宣布下调存款准备金率，释放长期资金约一万亿元，支持实体经济发展。" * 3)
             for i in range(50)]
    errors: list[BaseException] = []
    results: list[list[list[str]]] = []

    def work() -> None:
        try:
            results.append([keywords(t, x) for _ in range(20) for t, x in texts])
        except Exception as e:  # noqa: BLE001 - any error in a thread is the failure this test looks for
            errors.append(e)

    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:1]
    alone = [keywords(t, x) for _ in range(20) for t, x in texts]
    assert results == [alone] * 4
