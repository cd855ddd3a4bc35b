"""The worked example's two claims as batch items, shared by the intake, claims and chains tests."""

from typing import Any

TROOPS = "North Korea offered up to 100,000 troops to the DPR and LPR"
WORKERS = "About a thousand North Korean construction workers are to be sent to Donbass"


def outlet(slug: str, name: str, kind: str, country: str, language: str) -> dict[str, Any]:
    return {"slug": slug, "name": name, "kind": kind, "country": country, "language": language}


LAUNDRESS = outlet("kremlin-laundress", "Kremlin Laundress", "anonymous_channel", "RU", "ru")
CHANNEL_ONE = outlet("channel-one", "Channel One Russia", "broadcaster", "RU", "ru")
ASIA_TIMES = outlet("asia-times", "Asia Times", "news_outlet", "HK", "en")
UNIAN = outlet("unian", "UNIAN", "news_outlet", "UA", "uk")
MFA = outlet("mid-rf", "Russian Foreign Ministry", "official", "RU", "ru")
DAILY_NK = outlet("daily-nk", "Daily NK", "news_outlet", "KR", "en")

WORKED_EXAMPLE: list[dict[str, Any]] = [
    {
        "ref": "laundress",
        "claim": {"statement": TROOPS, "language": "en", "tags": ["dprk", "donbass"]},
        "outlet": LAUNDRESS,
        "url": "https://t.me/kremlin_laundress/2022",
        "published_at": "2022-08-01T09:00:00Z",
        "published_at_precision": "day",
        "stance": "asserts",
        "excerpt": "КНДР готова направить в Донбасс до 100 тысяч добровольцев",
        "language": "ru",
    },
    {
        "ref": "channel-one",
        "claim": {"statement": TROOPS},
        "outlet": CHANNEL_ONE,
        "url": "https://www.1tv.ru/shows/vremya-pokazhet/2022-08-04",
        "published_at": "2022-08-04T00:00:00Z",
        "published_at_precision": "approximate",
        "stance": "reports",
        "cites_refs": ["laundress"],
    },
    {
        "ref": "asia-times",
        "claim": {"statement": TROOPS},
        "outlet": ASIA_TIMES,
        "url": "https://asiatimes.com/2022/08/north-korea-troops-ukraine/",
        "published_at": "2022-08-05T00:00:00Z",
        "published_at_precision": "approximate",
        "stance": "reports",
        "cites_refs": ["channel-one"],
    },
    {
        "ref": "unian",
        "claim": {"statement": TROOPS},
        "outlet": UNIAN,
        "url": "https://www.unian.ua/world/kndr-100-tysyach.html",
        "published_at": "2022-08-06T00:00:00Z",
        "published_at_precision": "approximate",
        "stance": "asserts",
        "title": "КНДР готова відправити 100 тисяч військових на Донбас",
        "cites_refs": ["asia-times"],
    },
    {
        "ref": "denial",
        "claim": {"statement": TROOPS},
        "outlet": MFA,
        "url": "https://mid.ru/ru/press_service/2022-08-11/",
        "published_at": "2022-08-11T12:00:00Z",
        "published_at_precision": "day",
        "stance": "denies",
        "title": "Сообщения о 100 тысячах северокорейских добровольцев - фейк",
        "cites_refs": ["unian"],
    },
    {
        "ref": "after",
        "claim": {"statement": TROOPS},
        "outlet": ASIA_TIMES,
        "url": "https://asiatimes.com/2022/08/north-korea-donbass-followup/",
        "published_at": "2022-08-16T00:00:00Z",
        "published_at_precision": "approximate",
        "stance": "reports",
        "cites_refs": ["asia-times"],
    },
    {
        "ref": "daily-nk",
        "claim": {"statement": WORKERS, "language": "en"},
        "outlet": DAILY_NK,
        "url": "https://www.dailynk.com/english/north-korea-workers-donbass/",
        "published_at": "2022-08-01T00:00:00Z",
        "published_at_precision": "approximate",
        "stance": "reports",
        "attribution": "citing unnamed sources",
    },
]
