package io.wikistream.flink.sink;

import java.util.Properties;
import org.postgresql.plugin.AuthenticationPlugin;
import org.postgresql.plugin.AuthenticationRequestType;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;

/**
 * Gives pgjdbc the password only for SCRAM, libpq's {@code require_auth=scram-sha-256} for the JVM.
 *
 * <p>pgjdbc answers a server that asks for the password in clear text (or MD5) with the password:
 * any process squatting PostgreSQL's port while the database is down would receive it. Named in
 * the JDBC URL ({@code authenticationPluginClassName}), the driver asks this plugin instead, which
 * refuses every other request with the connection-rejected SQLSTATE.
 */
public final class ScramOnlyAuthentication implements AuthenticationPlugin {
    private final String password;

    /** pgjdbc's ObjectFactory passes the connection properties, which hold the password. */
    public ScramOnlyAuthentication(Properties info) {
        this.password = info.getProperty("password");
    }

    @Override
    public char[] getPassword(AuthenticationRequestType type) throws PSQLException {
        if (type != AuthenticationRequestType.SASL) {
            throw new PSQLException(
                    "refusing to send the password: the server asked for " + type + " authentication, not SCRAM",
                    PSQLState.CONNECTION_REJECTED);
        }
        return password == null ? null : password.toCharArray();
    }
}
