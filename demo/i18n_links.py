"""Strings of links that open a view and of lessons (English, Chinese), added to demo.i18n.STRINGS."""

from __future__ import annotations

from .i18n import STRINGS

LINK_STRINGS: dict[str, tuple[str, str]] = {
    "links.copy": ("Copy link", "复制链接"),
    "links.box": ("Link to this view", "此视图的链接"),
    "links.box.info": ("Copy link: a link that opens this tab with these settings, for your students",
                       "复制链接：得到一个打开此标签页并带上当前设置的链接，可发给学生"),
    "links.ignored": ("This link's {names} could not be used and were ignored.",
                      "此链接中的 {names} 无法使用，已忽略。"),
    "links.lesson.unknown": ("There is no lesson named {name}; the app opened as usual.",
                             "没有名为 {name} 的课程，已照常打开应用。"),
    "links.lesson.bad": ("The lesson file {name} has a problem and was not opened: {problem}",
                         "课程文件 {name} 有问题，未能打开：{problem}"),
    "links.lesson.steps": ("Steps", "步骤"),
    "links.lesson.questions": ("Questions", "思考题"),
    "links.lesson.locked": ("Some controls are locked by this lesson.", "本课程锁定了部分控件。"),
}

STRINGS.update(LINK_STRINGS)
