from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "portal.platforms"
    label = "platforms"
    verbose_name = "Participating platforms"

    def ready(self) -> None:
        # The cases app knows nothing of platforms: webhooks hear of feed
        # changes through the listener hook of portal/cases/positions.py.
        from portal.cases.positions import feed_listener_register
        from portal.platforms.tasks import webhooks_dispatch_enqueue

        feed_listener_register(webhooks_dispatch_enqueue)
