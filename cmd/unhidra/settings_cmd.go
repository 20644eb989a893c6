package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/server"
	"github.com/unhidra/unhidra/settings"
)

const settingsUsage = "usage: unhidra admin settings list|set KEY VALUE|reset KEY [flags]"

// adminSettings runs `unhidra admin settings list|set|reset`: the runtime
// settings from the shell, with the operator's rights. It is the way back
// from an override, which a changed flag does not beat; running nodes take
// a change within their reload interval (10 s).
func adminSettings(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	if len(args) == 0 {
		return errors.New(settingsUsage)
	}
	var patch map[string]json.RawMessage
	rest := args[1:]
	switch args[0] {
	case "list":
	case "set":
		if len(rest) < 2 || strings.HasPrefix(rest[0], "-") {
			return errors.New(settingsUsage)
		}
		v := json.RawMessage(strconv.Quote(rest[1]))
		if _, err := strconv.Atoi(rest[1]); err == nil {
			v = json.RawMessage(rest[1])
		}
		patch, rest = map[string]json.RawMessage{rest[0]: v}, rest[2:]
	case "reset":
		if len(rest) < 1 || strings.HasPrefix(rest[0], "-") {
			return errors.New(settingsUsage)
		}
		patch, rest = map[string]json.RawMessage{rest[0]: json.RawMessage("null")}, rest[1:]
	default:
		return fmt.Errorf("unknown settings command %q; %s", args[0], settingsUsage)
	}
	cfg, err := loadConfig("admin settings", rest, stderr, lookupEnv, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	db, err := openUsedStore(ctx, cfg, log, "")
	if err != nil {
		return err
	}
	defer db.Close()
	var check func(context.Context) error
	if patch != nil {
		// The break-glass rule holds from the shell too.
		keys, err := server.LoadKeys(ctx, cfg, db, log)
		if err != nil {
			return err
		}
		svc, err := server.NewAuth(cfg, db, keys, nil, nil, nil, log)
		if err != nil {
			return err
		}
		check = svc.CheckSSOOnly
	}
	st := server.NewSettings(cfg, db, nil, check, log)
	var list []settings.Setting
	if patch != nil {
		list, err = st.UpdateUnchecked(ctx, patch)
	} else {
		list, err = st.ListUnchecked(ctx)
	}
	if err != nil {
		if unhidra.ErrorCode(err) != unhidra.EInternal {
			return errors.New(unhidra.ErrorMessage(err))
		}
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tDEFAULT (FLAG)")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%v\t%s\t%v (%s)\n", s.Key, s.Value, s.Source, s.Default, s.Flag)
	}
	tw.Flush()
	if patch != nil {
		fmt.Fprintf(stdout, "saved in the %s; running nodes apply it within 10 s\n", describeDB(cfg))
	}
	return nil
}
