// Package defaults holds the defaults of sqlstore's options that the CLI and
// the example app share with the root package, so that each is written once.
package defaults

import "time"

// The defaults of the options of package sqlstore.
const (
	Table          = "sessions"
	IDColumn       = "token"
	DataColumn     = "data"
	ExpiryColumn   = "expiry"
	OwnerColumn    = "owner"
	CreatedColumn  = "created"
	UpdatedColumn  = "updated"
	EndedColumn    = "ended"
	PruneInterval  = 5 * time.Minute
	TTL            = 24 * time.Hour
	PruneBatchSize = 1000
	PrunePause     = 10 * time.Millisecond
	MaxDataSize    = 8 << 20 // fits MariaDB's default 16 MiB max_allowed_packet
	TouchThreshold = 5 * time.Second
	MaxRetries     = 16
	WriteSlots     = 1
)
