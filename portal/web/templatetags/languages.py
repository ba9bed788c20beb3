"""The header's language menu: every language of settings.LANGUAGES, named in itself.

Django's own ``{% get_available_languages %}`` passes the names through gettext, which
turns "English" into the current language's word for it; a person looking for their
language should find it written as they write it, whatever the page's language.
"""

from typing import Any

from django import template
from django.conf import settings
from django.utils import translation

register = template.Library()


@register.inclusion_tag("web/_language_menu.html", takes_context=True)
def language_menu(context: template.Context) -> dict[str, Any]:
    current = translation.get_language()
    request = context.get("request")
    return {
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request is not None else "/",
        "current": current,
        "current_name": dict(settings.LANGUAGES).get(current, current),
        "languages": [
            {
                "code": code,
                "name": name,
                "bidi": translation.get_language_info(code)["bidi"],
                "current": code == current,
            }
            for code, name in settings.LANGUAGES
        ],
    }
