{
  "targets": [
    {
      "target_name": "abilink_io",
      "sources": ["native/abilink-io.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
