"""Strings of links that open a view and of lessons (English, Chinese), added to demo.i18n.STRINGS."""

from __future__ import annotations

from .i18n import STRINGS

LINK_STRINGS: dict[str, tuple[str, str]] = {
    "links.copy": ("Copy link", "复制链接"),
    "links.box": ("Link to this view", "此视图的链接"),
    "links.box.info": ("Opens this tab with these settings (copied to the clipboard where the browser allows)",
                       "打开此标签页并带上当前设置（浏览器允许时已复制到剪贴板）"),
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
