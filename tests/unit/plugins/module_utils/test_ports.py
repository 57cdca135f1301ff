"""Port checks: the parsing of the kernel's port settings, and in_use against a real socket."""
import socket

from ansible_collections.hx.mlops.plugins.module_utils import ports


def test_parse_port_range_and_reserved_ports():
    assert ports.parse_port_range("32768\t60999\n") == (32768, 60999)
    assert ports.parse_reserved_ports("\n") == []
    assert ports.parse_reserved_ports("8080,38040-38045\n") == [(8080, 8080), (38040, 38045)]


def test_ephemeral_conflicts_skip_ports_outside_the_range_and_reserved_ones():
    reserved = ports.parse_reserved_ports("38040-38045")
    got = ports.ephemeral_conflicts([25441, 38041, 38046, 38046, 60999, 61000], (32768, 60999), reserved)
    assert got == [38046, 60999]
    assert ports.ephemeral_conflicts([28041, 29041], (32768, 60999)) == []


def test_ephemeral_error_names_the_ports_and_the_fix(monkeypatch, tmp_path):
    (tmp_path / "range").write_text("32768\t60999\n")
    (tmp_path / "reserved").write_text("\n")
    monkeypatch.setattr(ports, "PORT_RANGE_FILE", str(tmp_path / "range"))
    monkeypatch.setattr(ports, "RESERVED_PORTS_FILE", str(tmp_path / "reserved"))
    assert ports.ephemeral_error([28041, 29041], "service minio") is None
    msg = ports.ephemeral_error([28041, 38042], "service dataset-sharing")
    assert msg.startswith("service dataset-sharing: port 38042 lies in this host's ephemeral port range 32768-60999")
    assert "net.ipv4.ip_local_reserved_ports=38042" in msg
    (tmp_path / "reserved").write_text("38042\n")
    assert ports.ephemeral_error([38042], "service dataset-sharing") is None


def test_in_use_sees_a_listening_socket_and_not_a_closed_one():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        assert ports.in_use(port) is True
    finally:
        server.close()
    assert ports.in_use(port) is False
