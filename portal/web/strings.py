"""Messages the hashing page's script shows, translated on the server.

They reach the page as a JSON data block (json_script), which the CSP allows:
it is data, never run as script.
"""

from django.conf import settings
from django.utils.translation import gettext as _

from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.video import DEFAULT_MAX_VIDEO_BYTES, DEFAULT_MAX_VIDEO_SECONDS
from portal.cases.services import MAX_ITEMS_PER_SUBMISSION


def submit_page_strings() -> dict[str, str]:
    return {
        "waiting": _("Waiting…"),
        "reading": _("Reading the file on this device…"),
        "hashing": _("Making the fingerprint…"),
        "ready": _("Ready: fingerprints made on this device."),
        "video": _("Ready: this video's exact fingerprints were made on this device."),
        "low_quality": _(
            "This picture has very little detail (quality {quality} of 100; {floor} is "
            "needed), so altered copies can't be matched reliably and only exact copies "
            "will be blocked. If you can, choose the original photo rather than a "
            "screenshot, a thumbnail or a cropped copy."
        ),
        "quality_floor": str(PDQ_QUALITY_FLOOR),
        "not_media": _("This is not a photo or a video, so it was left out."),
        "unreadable": _("This file couldn't be read as an image. It may be damaged."),
        "too_large": _("This image is too large to hash on this device."),
        "unsupported": _("This browser can't open this kind of photo (for example HEIC)."),
        "server_option": _("You can use server-side hashing instead."),
        "server_one_consent": _(
            "I agree to send this one file to Takeback's server, where it is hashed in "
            "memory and discarded straight away. It is never saved."
        ),
        "server_one_button": _("Hash this file on our server"),
        "server_one_named": _("Hash {name} on our server"),
        "server_one_sending": _("Sending this file to be hashed…"),
        "server_ready": _("Ready: fingerprints made on our server; the file was discarded."),
        "label": _("label"),
        "max_files": str(MAX_ITEMS_PER_SUBMISSION),
        "too_many": _(
            "You can send up to {n} files at a time, so {extra} were left out. "
            "Send these first, then add the others from your case page."
        ),
        "show_previews": _("Show previews"),
        "hide_previews": _("Blur previews"),
        "leave_warning": _("Have you saved your case number and PIN? They can't be shown again."),
        "files_label": _("Files and their labels on your case page"),
        "failed": _("Something went wrong while hashing this file."),
        "remove": _("Remove"),
        "remove_named": _("Remove {name}"),
        "preview": _("Preview of {name}"),
        "progress": _("Progress for {name}"),
        "count": _("{ready} of {total} files ready."),
        "failed_count": _("{n} could not be used."),
        "none_ready": _("No file is ready to submit yet."),
        "submit": _("Submit fingerprints of {n} files"),
        "submit_one": _("Submit fingerprints of 1 file"),
        "sending": _("Sending fingerprints…"),
        "network": _("The fingerprints couldn't be sent. Check your connection and try again."),
        "copied": _("Copied."),
        "copy_failed": _("Copying didn't work here; please write them down."),
        "file_label": _("Takeback case"),
        "number_label": _("Case number"),
        "pin_label": _("PIN"),
        "recovery_label": _("Recovery code"),
        "expiry_label": _("Hashes shared until"),
        "status_label": _("Check or withdraw your case at"),
        "created_title": _("Thank you. Your case is open."),
        # Videos (portal/web/static/web/video-select.js). The limits are hashing/js's
        # (video.js DEFAULT_LIMITS), which are the server library's defaults.
        "video_max_hours": str(int(DEFAULT_MAX_VIDEO_SECONDS // 3600)),
        "video_max_gb": str(DEFAULT_MAX_VIDEO_BYTES // 1024**3),
        "server_max_bytes": str(settings.TAKEBACK_MAX_UPLOAD_BYTES),
        "video_reading": _("Reading the video on this device…"),
        "video_frames": _("Making the video's fingerprints: frame {done} of {total}"),
        "video_element": _("Trying another way to read this video on this device…"),
        "video_ready": _(
            "Ready: fingerprints of the whole video and of {n} of its frames were made on "
            "this device, so re-encoded or trimmed copies can be matched too."
        ),
        "video_unsupported": _(
            "This browser can't decode this kind of video (for example HEVC, also called H.265)."
        ),
        "video_server_too_large": _(
            "It is also too large to send to our server. You could convert it to MP4 (H.264) "
            "or WebM, or try another browser."
        ),
        "video_too_large": _(
            "This video is too long or too large to hash on this device (the limits are "
            "{hours} hours and {gb} GB)."
        ),
        "video_unreadable": _("This file couldn't be read as a video. It may be damaged."),
        "created_video": _("video; frame fingerprints: {n}"),
        "body_too_large": _(
            "The fingerprints of these files are too many to send at once (for example "
            "several long videos). Remove some, send the others, then add the rest from your "
            "case page."
        ),
        "cancel": _("Cancel"),
        "cancel_named": _("Cancel hashing {name}"),
    }
