"""``{% helplines %}``: the help list of portal/web/helplines.py for the page's language."""

from typing import Any

from django import template
from django.utils import translation

from portal.web.helplines import helplines_for

register = template.Library()


@register.inclusion_tag("web/_helplines.html")
def helplines() -> dict[str, Any]:
    everyone, local = helplines_for(translation.get_language() or "en")
    return {"everyone": everyone, "local": local}
