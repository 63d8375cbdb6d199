"""Which demo programme `load_demo_data` loads: DEMO_LOCALE=zh-hans gives a Chinese programme
(CNY, Asia/Shanghai, +86 phones, Chinese names, stores and rewards); anything else, or nothing,
the British one. Each app's demo.py asks here."""

import os

ENV = "DEMO_LOCALE"
CHINESE = "zh-hans"


def demo_locale() -> str:
    value = os.environ.get(ENV, "").strip().lower().replace("_", "-")
    return CHINESE if value in {"zh-hans", "zh", "zh-cn"} else "en"


def chinese_demo() -> bool:
    return demo_locale() == CHINESE
