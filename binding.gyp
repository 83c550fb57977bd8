{
  "targets": [
    {
      "target_name": "packet_socket",
      "sources": ["native/packet_socket.c", "native/bulk_receive.c", "native/netlink_socket.c", "native/addon_helpers.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
