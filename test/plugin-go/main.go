// A Docker Machine driver plugin for machine's tests, written with Go's standard library
// only: it speaks the plugin protocol as libmachine's plugin binaries do (MACHINE_PLUGIN_TOKEN,
// the address on the first stdout line, net/rpc over HTTP with gob, service RPCServerDriver,
// types registered under libmachine's names), and drives an existing host over SSH as the
// generic driver does. Its own flags are prefixed "testplug-".
package main

import (
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"path/filepath"
	"time"
)

// libmachine's mcnflag types, registered under the names libmachine's gob.Register gives them.
type StringFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  string
}
type IntFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  int
}
type BoolFlag struct {
	Name   string
	Usage  string
	EnvVar string
}
type StringSliceFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  []string
}
type Flag interface{}

// libmachine's rpcdriver.RPCFlags: the create flags' values.
type RPCFlags struct {
	Values map[string]interface{}
}

// libmachine's state.State values.
const (
	stateNone    = 0
	stateRunning = 1
	stateStopped = 4
	stateError   = 7
)

// The driver's JSON, which the CLI stores under "Driver" in config.json.
type Driver struct {
	IPAddress   string
	MachineName string
	SSHUser     string
	SSHPort     int
	SSHKeyPath  string
	StorePath   string
	SSHKey      string
	Labels      []string
	Stopped     bool
}

type Server struct {
	d         *Driver
	heartbeat chan bool
	closing   chan bool
}

func (s *Server) GetVersion(_ *struct{}, reply *int) error { *reply = 1; return nil }
func (s *Server) Heartbeat(_, _ *struct{}) error         { s.heartbeat <- true; return nil }
func (s *Server) Close(_, _ *struct{}) error             { s.closing <- true; return nil }

func (s *Server) GetCreateFlags(_ *struct{}, reply *[]Flag) error {
	*reply = []Flag{
		&StringFlag{Name: "testplug-ip-address", Usage: "IP address of the host", EnvVar: "TESTPLUG_IP_ADDRESS"},
		&StringFlag{Name: "testplug-ssh-user", Usage: "SSH user", EnvVar: "TESTPLUG_SSH_USER", Value: "root"},
		&StringFlag{Name: "testplug-ssh-key", Usage: "SSH private key", EnvVar: "TESTPLUG_SSH_KEY"},
		&IntFlag{Name: "testplug-ssh-port", Usage: "SSH port", EnvVar: "TESTPLUG_SSH_PORT", Value: 22},
		&StringSliceFlag{Name: "testplug-label", Usage: "A label (repeatable)", Value: []string{}},
		&BoolFlag{Name: "testplug-die-in-create", Usage: "Exit in the middle of Create", EnvVar: "TESTPLUG_DIE_IN_CREATE"},
		&BoolFlag{Name: "testplug-slow-create", Usage: "Take a minute in Create"},
	}
	// A binary serving several drivers (docker-machine, rancher-machine) is told which one.
	if served := os.Getenv("MACHINE_PLUGIN_DRIVER_NAME"); served != "" {
		*reply = append(*reply, &StringFlag{Name: "testplug-served-as", Usage: "Served as driver " + served})
	}
	return nil
}

func (s *Server) SetConfigRaw(data []byte, _ *struct{}) error { return json.Unmarshal(data, s.d) }
func (s *Server) GetConfigRaw(_ *struct{}, reply *[]byte) error {
	b, err := json.Marshal(s.d)
	*reply = b
	return err
}

var dieInCreate, slowCreate bool

func (s *Server) SetConfigFromFlags(flags *interface{}, _ *struct{}) error {
	f, ok := (*flags).(*RPCFlags)
	if !ok {
		return fmt.Errorf("unexpected flags type %T", *flags)
	}
	str := func(k string) string { v, _ := f.Values[k].(string); return v }
	s.d.IPAddress = str("testplug-ip-address")
	s.d.SSHUser = str("testplug-ssh-user")
	s.d.SSHKey = str("testplug-ssh-key")
	port, _ := f.Values["testplug-ssh-port"].(int)
	s.d.SSHPort = port
	s.d.Labels, _ = f.Values["testplug-label"].([]string)
	dieInCreate, _ = f.Values["testplug-die-in-create"].(bool)
	slowCreate, _ = f.Values["testplug-slow-create"].(bool)
	if s.d.IPAddress == "" {
		return errors.New("testplug driver requires the --testplug-ip-address option")
	}
	return nil
}

func (s *Server) keyPath() string {
	return filepath.Join(s.d.StorePath, "machines", s.d.MachineName, "id_rsa")
}

func (s *Server) PreCreateCheck(_, _ *struct{}) error {
	if _, err := os.Stat(s.d.SSHKey); err != nil {
		return fmt.Errorf("SSH key %s: %v", s.d.SSHKey, err)
	}
	return nil
}

func (s *Server) Create(_, _ *struct{}) error {
	fmt.Println("Importing SSH key...")
	key, err := os.ReadFile(s.d.SSHKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.keyPath(), key, 0o600); err != nil {
		return err
	}
	s.d.SSHKeyPath = s.keyPath()
	if slowCreate {
		fmt.Println("Creating slowly...")
		time.Sleep(time.Minute)
	}
	if dieInCreate {
		fmt.Fprintln(os.Stderr, "testplug: dying in the middle of Create")
		os.Exit(3)
	}
	return nil
}

func (s *Server) Remove(_, _ *struct{}) error  { return nil }
func (s *Server) Start(_, _ *struct{}) error   { s.d.Stopped = false; return nil }
func (s *Server) Stop(_, _ *struct{}) error    { s.d.Stopped = true; return nil }
func (s *Server) Kill(_, _ *struct{}) error    { s.d.Stopped = true; return nil }
func (s *Server) Restart(_, _ *struct{}) error { s.d.Stopped = false; return nil }

func (s *Server) DriverName(_ *struct{}, reply *string) error     { *reply = "testplug"; return nil }
func (s *Server) GetMachineName(_ *struct{}, reply *string) error { *reply = s.d.MachineName; return nil }
func (s *Server) GetIP(_ *struct{}, reply *string) error          { *reply = s.d.IPAddress; return nil }
func (s *Server) GetSSHHostname(_ *struct{}, reply *string) error { *reply = s.d.IPAddress; return nil }
func (s *Server) GetSSHKeyPath(_ *struct{}, reply *string) error  { *reply = s.d.SSHKeyPath; return nil }
func (s *Server) GetSSHPort(_ *struct{}, reply *int) error        { *reply = s.d.SSHPort; return nil }
func (s *Server) GetSSHUsername(_ *struct{}, reply *string) error { *reply = s.d.SSHUser; return nil }
func (s *Server) GetURL(_ *struct{}, reply *string) error {
	if s.d.IPAddress == "" {
		return errors.New("no IP address")
	}
	*reply = fmt.Sprintf("tcp://%s:2376", s.d.IPAddress)
	return nil
}
func (s *Server) GetState(_ *struct{}, reply *int) error {
	if s.d.Stopped {
		*reply = stateStopped
	} else {
		*reply = stateRunning
	}
	return nil
}

func main() {
	if os.Getenv("MACHINE_PLUGIN_TOKEN") != "42" {
		fmt.Println("This is a Docker Machine plugin binary.\nPlugin binaries are not intended to be invoked directly.")
		os.Exit(1)
	}
	// TESTPLUG_LEGACY: behave as a plugin built with Docker Machine 0.5.0, whose service and
	// flags type had the names they were given before 0.5.1.
	legacy := os.Getenv("TESTPLUG_LEGACY") != ""
	service, flagsType := "RPCServerDriver", "*rpcdriver.RPCFlags"
	if legacy {
		service, flagsType = "RpcServerDriver", "*rpcdriver.RpcFlags"
	}
	gob.RegisterName(flagsType, &RPCFlags{})
	gob.RegisterName("*mcnflag.StringFlag", &StringFlag{})
	gob.RegisterName("*mcnflag.IntFlag", &IntFlag{})
	gob.RegisterName("*mcnflag.BoolFlag", &BoolFlag{})
	gob.RegisterName("*mcnflag.StringSliceFlag", &StringSliceFlag{})
	if os.Getenv("TESTPLUG_NEVER_LISTEN") != "" {
		time.Sleep(time.Hour)
	}
	s := &Server{d: &Driver{}, heartbeat: make(chan bool), closing: make(chan bool)}
	if err := rpc.RegisterName(service, s); err != nil {
		panic(err)
	}
	rpc.HandleHTTP()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Addr().String())
	go http.Serve(l, nil)
	for {
		select {
		case <-s.closing:
			os.Exit(0)
		case <-s.heartbeat:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "testplug: no heartbeat for 10 s, exiting")
			os.Exit(1)
		}
	}
}
