// Command outreach is the outreach service: it talks with migrants by SMS,
// WhatsApp and Telegram about aid distributions, health care and school.
//
//	outreach serve            the webhook service and admin API
//	outreach chat             talk to the bot in the terminal
//	outreach validate [DIR]   check flows and locales
//	outreach poster --site ID a site's printable poster (PDF or PNG)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "outreach:", err)
		os.Exit(1)
	}
}
