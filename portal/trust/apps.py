from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "portal.trust"
    label = "trust"
    verbose_name = "Trust in the list"

    def ready(self) -> None:
        # portal/cases knows nothing of this app: the benign-list screen and the
        # periodic jobs plug in through hooks, as the webhook listener does.
        from portal.cases.services import submission_screen_register
        from portal.trust.benign import benign_screen
        from portal.trust.schedule import local_schedule_start

        submission_screen_register(benign_screen)
        local_schedule_start()
