"""Takeback's native hash feed as a python-threatexchange SignalExchangeAPI.

Load it in the CLI with `threatexchange config extensions add takeback_pytx`, or list
`TakebackSignalExchangeAPI` in HMA's `exchange_types` (see README.md beside this
package). `TX_MANIFEST` is what both look for.
"""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from takeback_pytx.client import TakebackAPIError, TakebackClient
from takeback_pytx.exchange import (
    TakebackCheckpoint,
    TakebackCollabConfig,
    TakebackCredentials,
    TakebackRecord,
    TakebackSignalExchangeAPI,
    TakebackSignalMetadata,
)

__all__ = [
    "TX_MANIFEST",
    "TakebackAPIError",
    "TakebackCheckpoint",
    "TakebackClient",
    "TakebackCollabConfig",
    "TakebackCredentials",
    "TakebackRecord",
    "TakebackSignalExchangeAPI",
    "TakebackSignalMetadata",
]

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(TakebackSignalExchangeAPI,))
