# Runs at install time (cmake --install, and cpack's staging install): makes the
# flag files and systemd units from their templates with the prefix being
# installed to, so a package built for /usr names /usr/bin/chat-core and
# /usr/share/chat/web, and a `cmake --install --prefix /opt/chat` names those.
# Set by package.cmake before this runs: CHAT_PACKAGE_SRC, CHAT_PACKAGE_BIN,
# CHAT_BINDIR, CHAT_DATADIR, CHAT_DOCDIR, CHAT_SYSCONFDIR (GNUInstallDirs'
# values, relative to the prefix) and CHAT_STATE_DIR (absolute: systemd's
# StateDirectory=chat).

# As GNUInstallDirs places them: the prefix /usr has its configuration in /etc
# (the Debian package: /etc/chat), any other in PREFIX/etc.
if(IS_ABSOLUTE "${CHAT_SYSCONFDIR}")
  set(CHAT_CONF_DIR "${CHAT_SYSCONFDIR}/chat")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND CHAT_SYSCONFDIR STREQUAL "etc")
  set(CHAT_CONF_DIR "/etc/chat")
else()
  set(CHAT_CONF_DIR "${CMAKE_INSTALL_PREFIX}/${CHAT_SYSCONFDIR}/chat")
endif()
set(CHAT_BIN_DIR "${CMAKE_INSTALL_PREFIX}/${CHAT_BINDIR}")
set(CHAT_WEB_DIR "${CMAKE_INSTALL_PREFIX}/${CHAT_DATADIR}/chat/web")
set(CHAT_DOC_DIR "${CMAKE_INSTALL_PREFIX}/${CHAT_DOCDIR}")
# systemd reads /lib/systemd/system (Debian's packages put units there) and
# /usr/local/lib/systemd/system; other prefixes keep them under the prefix
# (link them into /etc/systemd/system to use them).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(chat_unit_dir "/lib/systemd/system")
else()
  set(chat_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

set(chat_out "${CHAT_PACKAGE_BIN}/install")
foreach(name chat-core.flags ws-bridge.flags chat-core.service ws-bridge.service chat-backup.service)
  configure_file("${CHAT_PACKAGE_SRC}/${name}.in" "${chat_out}/${name}" @ONLY)
endforeach()
configure_file("${CHAT_PACKAGE_SRC}/chat-backup.timer" "${chat_out}/chat-backup.timer" COPYONLY)

# An edited flag file is kept: an install over an earlier one must not undo
# the operator's settings (the Debian package's conffiles do that job there).
foreach(name chat-core.flags ws-bridge.flags)
  if(EXISTS "$ENV{DESTDIR}${CHAT_CONF_DIR}/${name}")
    message(STATUS "Keeping: $ENV{DESTDIR}${CHAT_CONF_DIR}/${name} (the new example is ${chat_out}/${name})")
  else()
    file(INSTALL "${chat_out}/${name}" DESTINATION "${CHAT_CONF_DIR}"
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endforeach()
file(INSTALL "${chat_out}/chat-core.service" "${chat_out}/ws-bridge.service" "${chat_out}/chat-backup.service"
     "${chat_out}/chat-backup.timer" DESTINATION "${chat_unit_dir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
