package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// installHint is how to get the Redis binaries the local Cluster and
// Sentinel need.
const installHint = "install Redis so that redis-server and redis-cli are on PATH " +
	"(Debian/Ubuntu: sudo apt-get install redis-server, which brings redis-tools; macOS: brew install redis)"

// server is a redis-server (or Sentinel) process of the tests' own, on a
// loopback port, keeping its files in dir. It dies with the test process.
type server struct {
	port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client is a plain client to this one process.
func (s *server) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr(), DialTimeout: time.Second, MaxRetries: -1})
}

// kill ends the process at once (SIGKILL) and waits for it.
func (s *server) kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// binaries returns the paths of redis-server and redis-cli, or says how to
// install them.
func binaries() (serverBin, cliBin string, err error) {
	if serverBin, err = exec.LookPath("redis-server"); err != nil {
		return "", "", fmt.Errorf("redis-server is not on PATH: %s", installHint)
	}
	if cliBin, err = exec.LookPath("redis-cli"); err != nil {
		return "", "", fmt.Errorf("redis-cli is not on PATH: %s", installHint)
	}
	return serverBin, cliBin, nil
}

// freePort returns a loopback port below 55536 that is free, as is the
// port 10000 above it (a cluster node's bus). Another process may take it
// before the server binds it: startServer then tries another.
func freePort() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(35535-20000)
		ok := true
		for _, q := range []int{p, p + 10000} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("found no free pair of loopback ports (p, p+10000) below 55536")
}

// tempDir makes the directory of a Cluster or Sentinel setup, named after
// this process, and first removes those left by test processes that died
// without cleaning up (a panic skips Main).
func tempDir(kind string) (string, error) {
	pattern := filepath.Join(os.TempDir(), "outreach-"+kind+"-*-*")
	old, _ := filepath.Glob(pattern)
	for _, dir := range old {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), "outreach-"+kind+"-"), "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && n != os.Getpid() && errors.Is(syscall.Kill(n, 0), syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
	return os.MkdirTemp("", fmt.Sprintf("outreach-%s-%d-", kind, os.Getpid()))
}

// startServer starts redis-server in a new directory under parent, with
// nothing saved on disk and args added (a config file path first, if any,
// is written by conf for the chosen port). It retries on another port when
// the process cannot bind its own, and waits until it answers PING.
func startServer(parent, name string, conf func(port int, dir string) (file string, err error), args ...string) (*server, error) {
	bin, _, err := binaries()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var last error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		var argv []string
		if conf != nil {
			file, err := conf(port, dir)
			if err != nil {
				return nil, err
			}
			argv = append(argv, file)
		}
		log := filepath.Join(dir, "redis.log")
		os.Remove(log)
		argv = append(argv, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log)
		argv = append(argv, args...)
		s := &server{port: port, dir: dir, cmd: exec.Command(bin, argv...), exited: make(chan struct{})}
		// It dies with the test process, even one killed.
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting redis-server: %w", err)
		}
		go func() { s.cmd.Wait(); close(s.exited) }()
		if last = s.waitPing(10 * time.Second); last == nil {
			return s, nil
		}
		s.kill()
	}
	return nil, last
}

// waitPing waits until the server answers PING, or says why not.
func (s *server) waitPing(limit time.Duration) error {
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if !s.alive() {
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, s.logTail())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on port %d did not answer within %v: %s", s.port, limit, s.logTail())
}

// logTail is the end of the server's log, to explain a failure.
func (s *server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// waitUntil polls cond until it is true or limit passes; then it returns
// the last reason cond gave.
func waitUntil(limit time.Duration, cond func(ctx context.Context) (bool, string)) error {
	deadline := time.Now().Add(limit)
	why := "not checked"
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok, reason := cond(ctx)
		cancel()
		if ok {
			return nil
		}
		why = reason
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not within %v: %s", limit, why)
}

// infoField returns the value of name in an INFO (or CLUSTER INFO) answer.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == name {
			return v
		}
	}
	return ""
}
