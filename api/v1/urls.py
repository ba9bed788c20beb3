"""URLs of the native platform API, version 1."""

from django.urls import path

from api.v1.feed import HashFeedApi
from api.v1.feedback import FeedAcknowledgeApi, HashFeedbackApi
from api.v1.match import HashMatchApi
from api.v1.match_videos import VideoMatchApi
from api.v1.platform import PlatformMeApi
from api.v1.snapshot import HashSnapshotApi
from api.v1.webhooks import WebhookDeleteApi, WebhookListApi

app_name = "v1"

urlpatterns = [
    path("me", PlatformMeApi.as_view(), name="platform-me"),
    path("hashes/feed", HashFeedApi.as_view(), name="hash-feed"),
    path("hashes/snapshot", HashSnapshotApi.as_view(), name="hash-snapshot"),
    path("match", HashMatchApi.as_view(), name="hash-match"),
    path("match/videos", VideoMatchApi.as_view(), name="video-match"),
    path("feedback", HashFeedbackApi.as_view(), name="hash-feedback"),
    path("acknowledge", FeedAcknowledgeApi.as_view(), name="feed-acknowledge"),
    path("webhooks", WebhookListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>", WebhookDeleteApi.as_view(), name="webhook-delete"),
]
