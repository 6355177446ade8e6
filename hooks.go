package sqlstore

import (
	"context"
	"time"

	"github.com/go-sqlstore/sqlstore/internal/hook"
)

func init() {
	hook.Describe = func(s any) hook.Info {
		st := s.(*Store)
		return hook.Info{Dialect: st.d.Name(), Schema: st.schema, Table: st.cfg.table, Index: indexName(st.cfg.table), OwnerIndex: ownerIndexName(st.cfg.table)}
	}
	hook.Now = func(s any) time.Time { return s.(*Store).now() }
	hook.TableSize = func(ctx context.Context, s any) (int64, error) { return s.(*Store).tableSize(ctx) }
	hook.DDL = func(s any) string { return s.(*Store).changed }
	hook.Denied = denied
	hook.MissingSchema = missingSchema
	hook.Rekey = func(ctx context.Context, s any, progress func(rewritten, scanned int64)) (int64, error) {
		return s.(*Store).rekey(ctx, progress)
	}
	hook.Prune = func(ctx context.Context, s any, progress func(int64)) (int64, error) {
		return s.(*Store).prune(ctx, progress)
	}
}
