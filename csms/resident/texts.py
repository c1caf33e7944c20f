"""The resident page's words in Chinese (the default) and English. Pure: no I/O.

Rules:
1. Every text has both languages (a test checks); a key without one is a bug, not a
   fallback.
2. The language is the ``lang`` query parameter when it names one, else the ``lang``
   cookie, else Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

LANGUAGES: Final = ("zh", "en")
DEFAULT: Final = "zh"
COOKIE: Final = "csms_lang"

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "title": ("扫码充电", "Charge here"),
    "charger": ("充电桩", "Charger"),
    "connector": ("枪", "Connector"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "status": ("状态", "Status"),
    "status.Available": ("空闲", "Available"),
    "status.Preparing": ("准备中（已插枪）", "Preparing (plugged in)"),
    "status.Charging": ("充电中", "Charging"),
    "status.SuspendedEV": ("车辆暂停", "Paused by the car"),
    "status.SuspendedEVSE": ("桩端暂停", "Paused by the charger"),
    "status.Finishing": ("结束中", "Finishing"),
    "status.Reserved": ("已预约", "Reserved"),
    "status.Unavailable": ("不可用", "Unavailable"),
    "status.Faulted": ("故障", "Faulted"),
    "status.Occupied": ("占用", "Occupied"),
    "status.Unknown": ("未知", "Unknown"),
    "tariff": ("当前电价", "Price now"),
    "tariff.none": ("暂无电价", "No price set"),
    "tariff.electricity": ("电费", "Electricity"),
    "tariff.service": ("服务费", "Service fee"),
    "tariff.total": ("合计", "Total"),
    "tariff.until": ("至", "until"),
    "tariff.today": ("今日分时电价", "Today's prices"),
    "period.peak": ("峰", "Peak"),
    "period.flat": ("平", "Flat"),
    "period.valley": ("谷", "Valley"),
    "per_kwh": ("元/度", "yuan/kWh"),
    "yuan": ("元", "yuan"),
    "kwh": ("度", "kWh"),
    "kw": ("千瓦", "kW"),
    "signin": ("登录", "Sign in"),
    "signin.hint": ("请输入充电卡号和物业设置的密码", "Enter your card number and the PIN"
                    " the property office gave you"),
    "card": ("卡号", "Card number"),
    "pin": ("密码", "PIN"),
    "signout": ("退出", "Sign out"),
    "signed_in_as": ("当前卡号", "Card"),
    "start": ("开始充电", "Start charging"),
    "stop": ("停止充电", "Stop charging"),
    "session": ("本次充电", "This session"),
    "session.none": ("暂无进行中的充电", "No session running"),
    "session.started": ("开始时间", "Started"),
    "session.energy": ("已充电量", "Energy"),
    "session.power": ("功率", "Power"),
    "session.cost": ("费用（估算）", "Cost so far"),
    "session.where": ("位置", "Where"),
    "last": ("上次充电", "Last session"),
    "last.cost": ("费用", "Cost"),
    "wallet": ("钱包余额", "Wallet balance"),
    "owed": ("欠费", "Owed"),
    "packages": ("套餐剩余", "Package left"),
    "packages.none": ("无有效套餐", "No package"),
    "until": ("有效期至", "valid until"),
    "updated": ("更新于", "Updated"),
    "error.pin": ("卡号或密码错误", "Wrong card number or PIN"),
    "error.locked": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "error.card": ("此卡不可用，请联系物业", "This card cannot charge; ask the property"
                   " office"),
    "error.csrf": ("页面已过期，请重试", "The page expired; try again"),
    "error.expired": ("登录已过期，请重新登录", "Signed out after a while; sign in again"),
    "error.offline": ("充电桩离线", "The charger is offline"),
    "error.busy": ("此枪正在被使用", "This connector is in use"),
    "error.rejected": ("充电桩拒绝了请求", "The charger refused"),
    "error.timeout": ("充电桩未响应", "The charger did not answer"),
    "error.failed": ("操作失败，请稍后再试", "That did not work; try again later"),
    "error.running": ("您已有进行中的充电", "You already have a session running"),
    "error.unknown": ("找不到此充电桩或枪", "No such charger or connector"),
    "error.not_found": ("找不到此充电记录", "No such session of yours"),
    "started": ("已发送开始指令，请插好充电枪", "Start sent; plug in if you have not"),
    "stopped": ("已停止充电", "Charging stopped"),
    "stop.sent": ("已发送停止指令", "Stop sent"),
    "language": ("English", "中文"),
}


def language(query: str | None, cookie: str | None) -> str:
    """Rule 2."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return str(choice)
    return DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` in ``lang``; a missing key raises (rule 1), except an unknown connector
    status, shown as the charger said it."""
    index = LANGUAGES.index(lang)

    def t(key: str) -> str:
        if key.startswith("status.") and key not in TEXTS:
            return key.removeprefix("status.")  # a status this page has no word for
        return TEXTS[key][index]

    return t
